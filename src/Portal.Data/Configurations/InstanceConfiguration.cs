using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Domain.Backends;
using Portal.Domain.Bindings;
using Portal.Domain.Catalog;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Domain.Teams;

namespace Portal.Data.Configurations;

internal sealed class InstanceConfiguration : IEntityTypeConfiguration<Instance>
{
    public void Configure(EntityTypeBuilder<Instance> b)
    {
        b.Property(i => i.Name).HasMaxLength(40);
        b.Property(i => i.Environment).HasMaxLength(10).HasDefaultValue("dev");
        b.Property(i => i.StatusMessage).HasMaxLength(2000);
        b.Property(i => i.Drift).HasMaxLength(8000);
        b.Property(i => i.Parameters).HasJsonStrings();
        // Names are unique per team among instances that still exist.
        b.HasIndex(i => new { i.TeamId, i.Name }).IsUnique().HasFilter("\"State\" NOT IN ('Deleted', 'Rejected', 'Expired')");
        b.HasIndex(i => new { i.TeamId, i.CreatedAt });
        b.HasOne<Team>().WithMany().HasForeignKey(i => i.TeamId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Offering>().WithMany().HasForeignKey(i => i.OfferingId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Plan>().WithMany().HasForeignKey(i => i.PlanId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Backend>().WithMany().HasForeignKey(i => i.BackendId).OnDelete(DeleteBehavior.Restrict);
        // Optimistic concurrency on PostgreSQL's row version, so two jobs can't both move one instance.
        b.Property<uint>("xmin").IsRowVersion();
    }
}

internal sealed class BindingConfiguration : IEntityTypeConfiguration<Binding>
{
    public void Configure(EntityTypeBuilder<Binding> b)
    {
        b.Property(x => x.AppName).HasMaxLength(40);
        b.Property(x => x.StatusMessage).HasMaxLength(2000);
        b.HasIndex(x => new { x.InstanceId, x.AppName }).IsUnique().HasFilter("\"State\" <> 'Deleted'");
        b.Property(x => x.ReadTokenHash).HasMaxLength(64);
        b.Property(x => x.RetiringReadTokenHash).HasMaxLength(64);
        b.HasIndex(x => x.RetireAt).HasFilter("\"RetireAt\" IS NOT NULL");
        b.HasIndex(x => x.CertificateExpiresAt).HasFilter("\"CertificateExpiresAt\" IS NOT NULL");
        b.HasOne<Instance>().WithMany().HasForeignKey(x => x.InstanceId).OnDelete(DeleteBehavior.Cascade);
        b.Property<uint>("xmin").IsRowVersion();
    }
}

internal sealed class OperationConfiguration : IEntityTypeConfiguration<Operation>
{

    public void Configure(EntityTypeBuilder<Operation> b)
    {
        b.Property(o => o.JobId).HasMaxLength(100);
        b.Property(o => o.Error).HasMaxLength(4000);
        b.HasIndex(o => new { o.InstanceId, o.CreatedAt });
        // One instance never has two unfinished operations: the checks before an insert can race, this cannot.
        b.HasIndex(o => o.InstanceId).IsUnique().HasFilter("\"State\" IN ('Queued', 'Running')")
            .HasDatabaseName(PortalDbContext.OneUnfinishedOperationPerInstanceIndex);
        b.HasOne<Instance>().WithMany().HasForeignKey(o => o.InstanceId).OnDelete(DeleteBehavior.Cascade);
        b.HasMany(o => o.Lines).WithOne().HasForeignKey(l => l.OperationId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class OperationLineConfiguration : IEntityTypeConfiguration<OperationLine>
{
    public void Configure(EntityTypeBuilder<OperationLine> b)
    {
        b.Property(l => l.Message).HasMaxLength(2000);
        b.HasIndex(l => new { l.OperationId, l.Id });
    }
}
