using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Domain.Approvals;
using Portal.Domain.Instances;
using Portal.Domain.Teams;

namespace Portal.Data.Configurations;

internal static class JsonStages
{
    private static readonly JsonSerializerOptions Options = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Stores approval stages as a jsonb array.</summary>
    public static PropertyBuilder<List<ApprovalStage>> HasJsonStages(this PropertyBuilder<List<ApprovalStage>> property) => property
        .HasColumnType("jsonb")
        .HasConversion(
            v => JsonSerializer.Serialize(v, Options),
            v => JsonSerializer.Deserialize<List<ApprovalStage>>(v, Options) ?? new(),
            new ValueComparer<List<ApprovalStage>>((a, b) => a!.SequenceEqual(b!), v => v.Aggregate(0, HashCode.Combine), v => v.ToList()));
}

internal sealed class ApprovalRuleConfiguration : IEntityTypeConfiguration<ApprovalRule>
{
    public void Configure(EntityTypeBuilder<ApprovalRule> b)
    {
        b.Property(r => r.Name).HasMaxLength(100);
        b.Property(r => r.Offering).HasMaxLength(40);
        b.Property(r => r.Plan).HasMaxLength(40);
        b.Property(r => r.Environment).HasMaxLength(10);
        b.Property(r => r.MinMonthlyCost).HasPrecision(12, 2);
        b.Property(r => r.Stages).HasJsonStages();
        b.HasIndex(r => r.Order);
    }
}

internal sealed class ApproverGroupConfiguration : IEntityTypeConfiguration<ApproverGroup>
{
    public void Configure(EntityTypeBuilder<ApproverGroup> b)
    {
        b.HasKey(g => g.Name);
        b.Property(g => g.Name).HasMaxLength(40);
        b.Property(g => g.Description).HasMaxLength(200);
        // Members as a uuid[] column: groups are small and read whole.
        b.Property(g => g.Members).HasColumnType("uuid[]");
    }
}

internal sealed class ApprovalRequestConfiguration : IEntityTypeConfiguration<ApprovalRequest>
{
    public void Configure(EntityTypeBuilder<ApprovalRequest> b)
    {
        b.Property(r => r.RequestedByName).HasMaxLength(256);
        b.Property(r => r.RuleName).HasMaxLength(100);
        b.Property(r => r.Reason).HasMaxLength(2000);
        b.Property(r => r.Stages).HasJsonStages();
        b.HasIndex(r => new { r.Status, r.CreatedAt });
        b.HasOne<Instance>().WithMany().HasForeignKey(r => r.InstanceId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<Team>().WithMany().HasForeignKey(r => r.TeamId).OnDelete(DeleteBehavior.Cascade);
        b.HasMany(r => r.Decisions).WithOne().HasForeignKey(d => d.RequestId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ApprovalDecisionConfiguration : IEntityTypeConfiguration<ApprovalDecisionRecord>
{
    public void Configure(EntityTypeBuilder<ApprovalDecisionRecord> b)
    {
        b.ToTable("ApprovalDecisions");
        b.Property(d => d.ApproverName).HasMaxLength(256);
        b.Property(d => d.Comment).HasMaxLength(2000);
        // One person counts once per request, also when two of their clicks race.
        b.HasIndex(d => new { d.RequestId, d.ApproverId }).IsUnique();
    }
}
