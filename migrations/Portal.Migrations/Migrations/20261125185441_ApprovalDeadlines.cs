using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Portal.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class ApprovalDeadlines : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Instances_TeamId_Name",
                table: "Instances");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RemindedAt",
                table: "ApprovalRequests",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Instances_TeamId_Name",
                table: "Instances",
                columns: new[] { "TeamId", "Name" },
                unique: true,
                filter: "\"State\" NOT IN ('Deleted', 'Rejected', 'Expired')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Instances_TeamId_Name",
                table: "Instances");

            migrationBuilder.DropColumn(
                name: "RemindedAt",
                table: "ApprovalRequests");

            migrationBuilder.CreateIndex(
                name: "IX_Instances_TeamId_Name",
                table: "Instances",
                columns: new[] { "TeamId", "Name" },
                unique: true,
                filter: "\"State\" NOT IN ('Deleted', 'Rejected')");
        }
    }
}
