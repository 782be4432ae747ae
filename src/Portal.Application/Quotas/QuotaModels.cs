using Portal.Domain.Quotas;

namespace Portal.Application.Quotas;

public sealed record TeamQuotaView(Guid TeamId, QuotaUse Use, bool IsDefault);
