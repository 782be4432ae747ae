namespace Portal.Application.Webhooks;

public sealed record WebhookView(Guid Id, Guid? TeamId, string Url, DateTimeOffset CreatedAt);

/// <summary>The signing secret is shown once, when the webhook is made.</summary>
public sealed record WebhookCreated(WebhookView Webhook, string Secret);
