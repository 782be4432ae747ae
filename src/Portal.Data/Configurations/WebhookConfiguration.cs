using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Portal.Domain.Teams;
using Portal.Domain.Webhooks;

namespace Portal.Data.Configurations;

internal sealed class WebhookConfiguration : IEntityTypeConfiguration<Webhook>
{
    public void Configure(EntityTypeBuilder<Webhook> b)
    {
        b.Property(w => w.Url).HasMaxLength(2000);
        b.HasIndex(w => w.TeamId);
        b.HasOne<Team>().WithMany().HasForeignKey(w => w.TeamId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> b)
    {
        b.Property(d => d.EventType).HasMaxLength(60);
        b.Property(d => d.LastError).HasMaxLength(2000);
        b.HasIndex(d => new { d.WebhookId, d.CreatedAt });
        b.HasOne<Webhook>().WithMany().HasForeignKey(d => d.WebhookId).OnDelete(DeleteBehavior.Cascade);
    }
}
