using Portal.Provisioning.Monitoring;

namespace Portal.Provisioning.Tests.Monitoring;

public sealed class MonitoringQueryExpressionTests
{
    private static readonly Guid Id = Guid.Parse("0F8FAD5B-D9CB-469F-A165-70867728950E");
    private static readonly DateTimeOffset End = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void QueryExpression_Raw_MetricWithInstanceSelector()
    {
        var query = new MetricQuery("http_requests_total", End.AddHours(-1), End, TimeSpan.FromMinutes(1));

        Assert.Equal("http_requests_total{portal_instance=\"mon-0f8fad5bd9cb469fa16570867728950e\"}",
            MonitoringDriver.QueryExpression(Id, query, TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData(15, "300s")]
    [InlineData(600, "600s")]
    public void QueryExpression_Rate_WindowIsRateWindowOrStepIfLonger(int stepSeconds, string window)
    {
        var query = new MetricQuery("jobs:done_total", End.AddHours(-1), End, TimeSpan.FromSeconds(stepSeconds), Rate: true);

        Assert.Equal($"rate(jobs:done_total{{portal_instance=\"mon-0f8fad5bd9cb469fa16570867728950e\"}}[{window}])",
            MonitoringDriver.QueryExpression(Id, query, TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData("up or {__name__=~\".+\"}")]
    [InlineData("up{portal_instance=\"mon-x\"}")]
    [InlineData("up}")]
    [InlineData("{__name__=\"up\"}")]
    [InlineData("9up")]
    [InlineData("up\n")]
    [InlineData("up ")]
    [InlineData("")]
    public void QueryExpression_NotAMetricName_Throws(string metric)
    {
        var query = new MetricQuery(metric, End.AddHours(-1), End, TimeSpan.FromMinutes(1));

        Assert.Throws<ArgumentException>(() => MonitoringDriver.QueryExpression(Id, query, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void QueryExpression_BadRange_Throws()
    {
        Assert.Throws<ArgumentException>(() => MonitoringDriver.QueryExpression(
            Id, new MetricQuery("up", End, End.AddHours(-1), TimeSpan.FromMinutes(1)), TimeSpan.FromMinutes(5)));
        Assert.Throws<ArgumentException>(() => MonitoringDriver.QueryExpression(
            Id, new MetricQuery("up", End.AddHours(-1), End, TimeSpan.Zero), TimeSpan.FromMinutes(5)));
        Assert.Throws<ArgumentException>(() => MonitoringDriver.QueryExpression(
            Id, new MetricQuery("up", End.AddDays(-30), End, TimeSpan.FromSeconds(1)), TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("1h30m", 5400)]
    [InlineData("2m", 120)]
    [InlineData("1d", 86400)]
    public void ParseDuration_PrometheusDuration_GivesSeconds(string text, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), MonitoringDriver.ParseDuration(text));
    }
}
