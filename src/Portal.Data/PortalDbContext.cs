using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Portal.Domain.Access;
using Portal.Domain.Approvals;
using Portal.Domain.Audit;
using Portal.Domain.Backends;
using Portal.Domain.Bindings;
using Portal.Domain.Catalog;
using Portal.Domain.Egress;
using Portal.Domain.Instances;
using Portal.Domain.Notifications;
using Portal.Domain.Operations;
using Portal.Domain.Quotas;
using Portal.Domain.Teams;
using Portal.Domain.Webhooks;

namespace Portal.Data;

public sealed class PortalDbContext(DbContextOptions<PortalDbContext> options)
    : IdentityDbContext<PortalUser, IdentityRole<Guid>, Guid>(options), IDataProtectionKeyContext
{
    /// <summary>The unique index that keeps an instance to one unfinished operation (a 409 when a request races another).</summary>
    public const string OneUnfinishedOperationPerInstanceIndex = "IX_Operations_OneUnfinishedPerInstance";

    public DbSet<Team> Teams => Set<Team>();

    public DbSet<TeamMember> TeamMembers => Set<TeamMember>();

    public DbSet<Backend> Backends => Set<Backend>();

    public DbSet<Offering> Offerings => Set<Offering>();

    public DbSet<Plan> Plans => Set<Plan>();

    public DbSet<Instance> Instances => Set<Instance>();

    public DbSet<Binding> Bindings => Set<Binding>();

    public DbSet<Operation> Operations => Set<Operation>();

    public DbSet<OperationLine> OperationLines => Set<OperationLine>();

    public DbSet<ServerKey> ServerKeys => Set<ServerKey>();

    public DbSet<PlatformCaRecord> PlatformCa => Set<PlatformCaRecord>();

    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    public DbSet<TeamQuota> TeamQuotas => Set<TeamQuota>();

    public DbSet<ApprovalRule> ApprovalRules => Set<ApprovalRule>();

    public DbSet<ApprovalRequest> ApprovalRequests => Set<ApprovalRequest>();

    public DbSet<ApprovalDecisionRecord> ApprovalDecisions => Set<ApprovalDecisionRecord>();

    public DbSet<ApproverGroup> ApproverGroups => Set<ApproverGroup>();

    public DbSet<Webhook> Webhooks => Set<Webhook>();

    public DbSet<Notification> Notifications => Set<Notification>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public DbSet<EgressAllowEntry> EgressAllowList => Set<EgressAllowEntry>();

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.UseOpenIddict<Guid>();
        builder.ApplyConfigurationsFromAssembly(typeof(PortalDbContext).Assembly);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Enums are stored by name: readable in SQL and safe when members are added.
        configurationBuilder.Properties<TeamRole>().HaveConversion<string>().HaveMaxLength(32);
        configurationBuilder.Properties<InstanceState>().HaveConversion<string>().HaveMaxLength(32);
        configurationBuilder.Properties<BindingState>().HaveConversion<string>().HaveMaxLength(32);
        configurationBuilder.Properties<OperationKind>().HaveConversion<string>().HaveMaxLength(32);
        configurationBuilder.Properties<OperationState>().HaveConversion<string>().HaveMaxLength(32);
        configurationBuilder.Properties<ApprovalOperation>().HaveConversion<string>().HaveMaxLength(32);
        configurationBuilder.Properties<RequestStatus>().HaveConversion<string>().HaveMaxLength(32);
    }
}
