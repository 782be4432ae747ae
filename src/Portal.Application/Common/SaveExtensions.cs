using Microsoft.EntityFrameworkCore;
using Npgsql;
using Portal.Data;

namespace Portal.Application.Common;

public static class SaveExtensions
{
    /// <summary>
    /// Saves a new operation unless the instance has an unfinished one already (the unique index the checks before
    /// raced with): then forgets the changes and returns false.
    /// </summary>
    public static async Task<bool> TrySaveUnlessInstanceBusyAsync(this PortalDbContext db, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException
        {
            SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: PortalDbContext.OneUnfinishedOperationPerInstanceIndex,
        })
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }

    /// <summary>
    /// Saves, turning races the checks before it could not see into a 409 for the user: a lost
    /// optimistic-concurrency race, or a unique index that a simultaneous request filled first.
    /// </summary>
    public static async Task SaveOrConflictAsync(this PortalDbContext db, string duplicateMessage, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            throw new ConflictException("Someone else changed this at the same moment; reload and try again.");
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new ConflictException(duplicateMessage);
        }
    }

    /// <summary>Saves a removal; a row that something came to reference meanwhile is a conflict with that message.</summary>
    public static async Task SaveRemovalOrConflictAsync(this PortalDbContext db, string referencedMessage, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.InnerException is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation })
        {
            throw new ConflictException(referencedMessage);
        }
    }
}
