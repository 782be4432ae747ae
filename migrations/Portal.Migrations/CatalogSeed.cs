namespace Portal.Migrations;

/// <summary>The offerings and plans every portal starts with; admins add plans and backends from there.</summary>
internal static class CatalogSeed
{
    internal sealed record PlanSeed(
        string Key, string Name, string Description, decimal MonthlyCost, Dictionary<string, int> Limits, int? MaxLeaseDays = null);

    internal sealed record OfferingSeed(string Key, string Kind, string Name, string Category, string Description, PlanSeed[] Plans);

    public static readonly OfferingSeed[] Offerings =
    [
        new("postgresql", "postgresql", "PostgreSQL database", "Databases",
            "A PostgreSQL 15 database of your own on the platform's database servers. Each binding is a login that reaches this database only.",
            [
                new("small", "Small", "Up to 20 connections. For development: a 30-day lease, extendable.", 15m, new() { ["connections"] = 20 }, 30),
                new("medium", "Medium", "Up to 100 connections. For production services.", 60m, new() { ["connections"] = 100 }),
            ]),
        new("rabbitmq", "rabbitmq", "RabbitMQ messaging", "Messaging",
            "A RabbitMQ virtual host for your app's queues and exchanges. Each binding is a user that reaches this vhost only (AMQP 0-9-1).",
            [
                new("small", "Small", "Up to 20 connections and 50 queues.", 10m, new() { ["connections"] = 20, ["queues"] = 50 }),
                new("medium", "Medium", "Up to 200 connections and 500 queues.", 40m, new() { ["connections"] = 200, ["queues"] = 500 }),
            ]),
        new("redis", "redis", "Redis cache", "Cache",
            "A key and channel prefix on the platform's Redis 7 servers. Each binding is an ACL user limited to the prefix, without admin commands.",
            [
                new("shared", "Shared", "Keys and channels under your prefix on a shared server; no persistence, for caching.", 8m, []),
            ]),
        new("etcd", "etcd", "etcd configuration store", "Configuration",
            "A key prefix in the platform's etcd cluster for configuration, feature flags and leader election. Each binding is an etcd user with read-write on the prefix only.",
            [
                new("standard", "Standard", "Read-write on your own prefix.", 5m, []),
            ]),
        new("s3", "s3", "S3 object storage", "Object storage",
            "A bucket of your own on the platform's Ceph object store, with a size and object quota. Each binding is an S3 access key that reaches this bucket only.",
            [
                new("small", "Small", "Up to 1 GiB and 10,000 objects.", 5m, new() { ["maxSizeMb"] = 1024, ["maxObjects"] = 10_000 }),
                new("large", "Large", "Up to 100 GiB and 1,000,000 objects.", 50m, new() { ["maxSizeMb"] = 102_400, ["maxObjects"] = 1_000_000 }),
            ]),
        new("logging", "logging", "Log stream", "Logging",
            "A log stream of your app on the platform's syslog collector: send RFC 5424 syslog over TCP with your binding's token, read and search it here or through the API.",
            [
                new("week", "7 days", "Logs kept 7 days.", 3m, new() { ["retentionDays"] = 7 }),
                new("month", "30 days", "Logs kept 30 days.", 10m, new() { ["retentionDays"] = 30 }),
            ]),
        new("monitoring", "monitoring", "Monitoring", "Monitoring",
            "Prometheus scrapes your app's /metrics endpoints, alerts when a target is down or errors rise, and sends the alerts to your webhook. Targets and a chart are on the instance page.",
            [
                new("basic", "Basic", "Up to 5 targets, scraped every 15 seconds.", 6m, new() { ["maxTargets"] = 5, ["scrapeIntervalSeconds"] = 15 }),
                new("plus", "Plus", "Up to 25 targets, scraped every 5 seconds.", 20m, new() { ["maxTargets"] = 25, ["scrapeIntervalSeconds"] = 5 }),
            ]),
        new("oidc", "oidc", "Identity (OIDC) for apps", "Identity",
            "An API resource of your app on the platform's OpenID Connect server: its own scope and audience. Each binding is a confidential client; tokens are JWTs your app validates from the JWKS.",
            [
                new("standard", "Standard", "Access tokens live 60 minutes.", 0m, new() { ["accessTokenMinutes"] = 60 }),
                new("short-lived", "Short-lived tokens", "Access tokens live 10 minutes.", 0m, new() { ["accessTokenMinutes"] = 10 }),
            ]),
    ];
}
