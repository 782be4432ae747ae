namespace Portal.Application.Bindings;

/// <summary>
/// How long a binding's previous credentials may keep working beside the new ones after a rotation: the owner's
/// choice (<see cref="RotateBindingHandler"/>) or a plan's schedule (<see cref="ScheduledRotation"/>).
/// </summary>
public static class RotationOverlap
{
    public const int MaxMinutes = 7 * 24 * 60;
}
