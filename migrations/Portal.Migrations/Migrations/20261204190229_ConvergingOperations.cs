using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Portal.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class ConvergingOperations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "BackendUnreachableSince",
                table: "Operations",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "TargetGeneration",
                table: "Operations",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Drift",
                table: "Instances",
                type: "character varying(8000)",
                maxLength: 8000,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ReconciledAt",
                table: "Instances",
                type: "timestamp with time zone",
                nullable: true);

            // Before the index: an instance with several unfinished operations (which the checks could let through)
            // keeps its newest one.
            migrationBuilder.Sql("""
                UPDATE "Operations" o SET "State" = 'Failed', "FinishedAt" = now(),
                    "Error" = 'Superseded by a newer operation of the instance.'
                WHERE o."State" IN ('Queued', 'Running') AND EXISTS (
                    SELECT 1 FROM "Operations" n
                    WHERE n."InstanceId" = o."InstanceId" AND n."State" IN ('Queued', 'Running') AND n."CreatedAt" > o."CreatedAt")
                """);

            migrationBuilder.CreateIndex(
                name: "IX_Operations_OneUnfinishedPerInstance",
                table: "Operations",
                column: "InstanceId",
                unique: true,
                filter: "\"State\" IN ('Queued', 'Running')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Operations_OneUnfinishedPerInstance",
                table: "Operations");

            migrationBuilder.DropColumn(
                name: "BackendUnreachableSince",
                table: "Operations");

            migrationBuilder.DropColumn(
                name: "TargetGeneration",
                table: "Operations");

            migrationBuilder.DropColumn(
                name: "Drift",
                table: "Instances");

            migrationBuilder.DropColumn(
                name: "ReconciledAt",
                table: "Instances");
        }
    }
}
