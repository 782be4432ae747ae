using Microsoft.AspNetCore.Components.Authorization;
using Portal.Application.Access;

namespace Portal.Web.Services;

/// <summary>The signed-in person behind the current circuit, as the handlers need them.</summary>
public sealed class CurrentActor(AuthenticationStateProvider authentication, IHttpContextAccessor http)
{
    // The circuit's connection request carries the browser's address; read it once, while it is there.
    private readonly string? _address = http.HttpContext?.Connection.RemoteIpAddress?.ToString();

    public async Task<Actor> GetAsync()
    {
        var state = await authentication.GetAuthenticationStateAsync();
        return Actor.From(state.User, _address);
    }
}
