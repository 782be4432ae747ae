namespace Portal.Domain.Approvals;

/// <summary>A named set of people who decide the approval stages that name the group (e.g. <c>dba</c>, <c>security</c>).</summary>
public sealed class ApproverGroup
{
    public required string Name { get; init; }

    public string? Description { get; set; }

    public List<Guid> Members { get; set; } = [];
}
