using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Domain.Backends;
using Portal.Domain.Egress;

namespace Portal.Data.Configurations;

internal sealed class EgressAllowEntryConfiguration : IEntityTypeConfiguration<EgressAllowEntry>
{
    public void Configure(EntityTypeBuilder<EgressAllowEntry> b)
    {
        b.Property(e => e.Target).HasMaxLength(253);
        b.Property(e => e.Site).HasMaxLength(40);
        b.Property(e => e.Note).HasMaxLength(500);
        b.Property(e => e.CreatedBy).HasMaxLength(256);

        // One entry per target and scope; NULLS NOT DISTINCT so that two "everywhere" entries collide too.
        b.HasIndex(e => new { e.Target, e.Site, e.BackendId }).IsUnique().AreNullsDistinct(false);

        // An entry for one backend goes with it.
        b.HasOne<Backend>().WithMany().HasForeignKey(e => e.BackendId).OnDelete(DeleteBehavior.Cascade);
    }
}
