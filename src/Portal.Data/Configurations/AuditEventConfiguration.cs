using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Domain.Audit;

namespace Portal.Data.Configurations;

internal sealed class AuditEventConfiguration : IEntityTypeConfiguration<AuditEvent>
{
    public void Configure(EntityTypeBuilder<AuditEvent> b)
    {
        // Sequence and hashes are set by the database's insert trigger (see the AuditTrail migration);
        // the defaults only tell EF to leave them out of the INSERT and read them back.
        b.Property(e => e.Sequence).HasDefaultValueSql("0");
        b.Property(e => e.PreviousHash).HasMaxLength(64).HasDefaultValueSql("''");
        b.Property(e => e.Hash).HasMaxLength(64).HasDefaultValueSql("''");
        b.HasIndex(e => e.Sequence).IsUnique();
        b.Property(e => e.ActorName).HasMaxLength(256);
        b.Property(e => e.ActorKind).HasMaxLength(20);
        b.Property(e => e.Action).HasMaxLength(80);
        b.Property(e => e.ObjectType).HasMaxLength(40);
        b.Property(e => e.ObjectId).HasMaxLength(100);
        b.Property(e => e.Address).HasMaxLength(64);
        b.Property(e => e.Outcome).HasMaxLength(20);
        b.Property(e => e.Details).HasMaxLength(2000);
        b.HasIndex(e => e.At);
        b.HasIndex(e => new { e.TeamId, e.At });
        b.HasIndex(e => new { e.ActorId, e.At });
        b.HasIndex(e => new { e.ObjectType, e.ObjectId });
    }
}
