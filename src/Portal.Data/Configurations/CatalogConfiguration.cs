using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Domain.Backends;
using Portal.Domain.Catalog;

namespace Portal.Data.Configurations;

internal sealed class OfferingConfiguration : IEntityTypeConfiguration<Offering>
{
    public void Configure(EntityTypeBuilder<Offering> b)
    {
        b.Property(o => o.Key).HasMaxLength(40);
        b.HasIndex(o => o.Key).IsUnique();
        b.Property(o => o.Kind).HasMaxLength(40);
        b.Property(o => o.Name).HasMaxLength(100);
        b.Property(o => o.Category).HasMaxLength(60);
        b.Property(o => o.Description).HasMaxLength(1000);
        // A short list read whole; backends are never deleted while instances use them.
        b.Property(o => o.BackendIds).HasColumnType("uuid[]");
        b.HasMany(o => o.Plans).WithOne().HasForeignKey(p => p.OfferingId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class PlanConfiguration : IEntityTypeConfiguration<Plan>
{
    public void Configure(EntityTypeBuilder<Plan> b)
    {
        b.Property(p => p.Key).HasMaxLength(40);
        b.HasIndex(p => new { p.OfferingId, p.Key }).IsUnique();
        b.Property(p => p.Name).HasMaxLength(100);
        b.Property(p => p.Description).HasMaxLength(1000);
        b.Property(p => p.MonthlyCost).HasPrecision(12, 2);
        b.Property(p => p.Limits).HasJsonCounts();
    }
}

internal static class JsonCounts
{
    /// <summary>Stores a name → number map as a jsonb object.</summary>
    public static PropertyBuilder<Dictionary<string, int>> HasJsonCounts(this PropertyBuilder<Dictionary<string, int>> property) => property
        .HasColumnType("jsonb")
        .HasConversion(
            v => JsonSerializer.Serialize(v, JsonSerializerOptions.Default),
            v => JsonSerializer.Deserialize<Dictionary<string, int>>(v, JsonSerializerOptions.Default) ?? new(),
            new ValueComparer<Dictionary<string, int>>(
                (a, c) => a!.Count == c!.Count && !a.Except(c).Any(),
                v => v.Aggregate(0, (h, kv) => HashCode.Combine(h, kv.Key, kv.Value)),
                v => new Dictionary<string, int>(v)));
}

internal static class JsonStrings
{
    /// <summary>Stores a name → text map as a jsonb object.</summary>
    public static PropertyBuilder<Dictionary<string, string>> HasJsonStrings(this PropertyBuilder<Dictionary<string, string>> property) => property
        .HasColumnType("jsonb")
        .HasConversion(
            v => JsonSerializer.Serialize(v, JsonSerializerOptions.Default),
            v => JsonSerializer.Deserialize<Dictionary<string, string>>(v, JsonSerializerOptions.Default) ?? new(),
            new ValueComparer<Dictionary<string, string>>(
                (a, c) => a!.Count == c!.Count && !a.Except(c).Any(),
                v => v.Aggregate(0, (h, kv) => HashCode.Combine(h, kv.Key, kv.Value)),
                v => new Dictionary<string, string>(v)));
}

internal sealed class TeamQuotaConfiguration : IEntityTypeConfiguration<Portal.Domain.Quotas.TeamQuota>
{
    public void Configure(EntityTypeBuilder<Portal.Domain.Quotas.TeamQuota> b)
    {
        b.HasKey(q => q.TeamId);
        b.HasOne<Portal.Domain.Teams.Team>().WithOne().HasForeignKey<Portal.Domain.Quotas.TeamQuota>(q => q.TeamId).OnDelete(DeleteBehavior.Cascade);
        b.Property(q => q.MaxMonthlyCost).HasPrecision(12, 2);
        b.Property(q => q.MaxInstancesPerOffering).HasJsonCounts();
    }
}

internal sealed class BackendConfiguration : IEntityTypeConfiguration<Backend>
{
    public void Configure(EntityTypeBuilder<Backend> b)
    {
        b.Property(x => x.Name).HasMaxLength(100);
        b.HasIndex(x => x.Name).IsUnique();
        b.Property(x => x.Kind).HasMaxLength(40);
        b.Property(x => x.Host).HasMaxLength(255);
        b.Property(x => x.AdminUser).HasMaxLength(100);
        b.Property(x => x.LastCheckMessage).HasMaxLength(1000);
        b.Property(x => x.Site).HasMaxLength(40).HasDefaultValue(Backend.DefaultSite);
        b.Property(x => x.WorkerQueue).HasMaxLength(40);
        b.Property(x => x.Settings).HasJsonStrings();
    }
}
