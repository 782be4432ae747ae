namespace Portal.Migrations;

/// <summary>
/// The audit trail's rules in SQL. Every inserted event is numbered and chained under a transaction
/// lock: <c>Hash = sha256(PreviousHash | fields)</c>. Updates, deletes and truncation are refused.
/// <c>portal_audit_digest</c> is also what verification recomputes, so writing and checking cannot drift.
/// </summary>
internal static class AuditTrailSql
{
    public const string Create = """
        CREATE FUNCTION portal_audit_digest(prev text, seq bigint, at timestamptz, actor_id uuid, actor_name text,
            actor_kind text, action text, object_type text, object_id text, team_id uuid, address text, outcome text,
            details text) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT encode(sha256(convert_to(concat_ws(E'\x1f',
                prev, seq::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                coalesce(actor_id::text, ''), actor_name, actor_kind, action, object_type, coalesce(object_id, ''),
                coalesce(team_id::text, ''), coalesce(address, ''), outcome, coalesce(details, '')), 'UTF8')), 'hex')
        $$;

        CREATE FUNCTION portal_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            last_sequence bigint;
            last_hash text;
        BEGIN
            -- One writer at a time, until it commits: the chain follows commit order, across processes.
            PERFORM pg_advisory_xact_lock(hashtext('portal_audit_chain'));
            SELECT "Sequence", "Hash" INTO last_sequence, last_hash FROM "AuditEvents" ORDER BY "Sequence" DESC LIMIT 1;
            NEW."Sequence" := coalesce(last_sequence, 0) + 1;
            NEW."PreviousHash" := coalesce(last_hash, '');
            NEW."Hash" := portal_audit_digest(NEW."PreviousHash", NEW."Sequence", NEW."At", NEW."ActorId", NEW."ActorName",
                NEW."ActorKind", NEW."Action", NEW."ObjectType", NEW."ObjectId", NEW."TeamId", NEW."Address", NEW."Outcome",
                NEW."Details");
            RETURN NEW;
        END
        $$;

        CREATE FUNCTION portal_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
        END
        $$;

        CREATE TRIGGER audit_chain BEFORE INSERT ON "AuditEvents" FOR EACH ROW EXECUTE FUNCTION portal_audit_chain();
        CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON "AuditEvents" FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
        CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON "AuditEvents" FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_append_only();
        """;

    public const string Drop = """
        DROP TRIGGER IF EXISTS audit_no_truncate ON "AuditEvents";
        DROP TRIGGER IF EXISTS audit_append_only ON "AuditEvents";
        DROP TRIGGER IF EXISTS audit_chain ON "AuditEvents";
        DROP FUNCTION IF EXISTS portal_audit_append_only();
        DROP FUNCTION IF EXISTS portal_audit_chain();
        DROP FUNCTION IF EXISTS portal_audit_digest(text, bigint, timestamptz, uuid, text, text, text, text, text, uuid, text, text, text);
        """;
}
