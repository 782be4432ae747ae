using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Portal.Data.Configurations;

internal sealed class PortalUserConfiguration : IEntityTypeConfiguration<PortalUser>
{
    public void Configure(EntityTypeBuilder<PortalUser> b)
    {
        b.Property(u => u.DisplayName).HasMaxLength(100);
        b.Property(u => u.ClientId).HasMaxLength(100);
        b.HasIndex(u => u.ClientId).IsUnique();
    }
}

internal sealed class ServerKeyConfiguration : IEntityTypeConfiguration<ServerKey>
{
    public void Configure(EntityTypeBuilder<ServerKey> b)
    {
        b.HasKey(k => k.Purpose);
        b.Property(k => k.Purpose).HasMaxLength(20);
        b.Property(k => k.KeyId).HasMaxLength(64);
    }
}

internal sealed class PlatformCaConfiguration : IEntityTypeConfiguration<PlatformCaRecord>
{
    public void Configure(EntityTypeBuilder<PlatformCaRecord> b)
    {
        b.ToTable("PlatformCa");
        b.HasKey(c => c.Id);
        b.Property(c => c.Id).HasMaxLength(20);
        b.Property(c => c.Source).HasMaxLength(20);
    }
}
