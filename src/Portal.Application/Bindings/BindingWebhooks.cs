using Portal.Domain.Bindings;
using Portal.Domain.Instances;
using Portal.Domain.Operations;
using Portal.Domain.Webhooks;

namespace Portal.Application.Bindings;

/// <summary>
/// The webhook events of a binding's lifecycle. Their data names the binding and its generation, never a
/// credential: a receiver fetches the new credentials through the API.
/// </summary>
internal static class BindingWebhooks
{
    public static string? EventOf(OperationKind kind) => kind switch
    {
        OperationKind.Bind => WebhookEvents.BindingReady,
        OperationKind.Rotate => WebhookEvents.BindingRotated,
        OperationKind.Retire => WebhookEvents.BindingGenerationRetired,
        OperationKind.Unbind => WebhookEvents.BindingRevoked,
        _ => null,
    };

    public static object Data(Instance instance, Binding binding) => new
    {
        instanceId = instance.Id,
        instanceName = instance.Name,
        bindingId = binding.Id,
        binding.AppName,
        state = binding.State.ToString(),
        binding.Generation,
        binding.RetiringGeneration,
        binding.RetireAt,
        binding.CertificateExpiresAt,
    };
}
