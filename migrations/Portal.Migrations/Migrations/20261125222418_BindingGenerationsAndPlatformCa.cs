using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Portal.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class BindingGenerationsAndPlatformCa : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<TimeSpan>(
                name: "Overlap",
                table: "Operations",
                type: "interval",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "CertificateExpiresAt",
                table: "Bindings",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "ClientCertificate",
                table: "Bindings",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<int>(
                name: "Generation",
                table: "Bindings",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RetireAt",
                table: "Bindings",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "RetiringGeneration",
                table: "Bindings",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RetiringReadTokenHash",
                table: "Bindings",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "PlatformCa",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    CertificatePem = table.Column<string>(type: "text", nullable: false),
                    ProtectedKeyPem = table.Column<string>(type: "text", nullable: false),
                    Source = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_PlatformCa", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Bindings_CertificateExpiresAt",
                table: "Bindings",
                column: "CertificateExpiresAt",
                filter: "\"CertificateExpiresAt\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_Bindings_RetireAt",
                table: "Bindings",
                column: "RetireAt",
                filter: "\"RetireAt\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "PlatformCa");

            migrationBuilder.DropIndex(
                name: "IX_Bindings_CertificateExpiresAt",
                table: "Bindings");

            migrationBuilder.DropIndex(
                name: "IX_Bindings_RetireAt",
                table: "Bindings");

            migrationBuilder.DropColumn(
                name: "Overlap",
                table: "Operations");

            migrationBuilder.DropColumn(
                name: "CertificateExpiresAt",
                table: "Bindings");

            migrationBuilder.DropColumn(
                name: "ClientCertificate",
                table: "Bindings");

            migrationBuilder.DropColumn(
                name: "Generation",
                table: "Bindings");

            migrationBuilder.DropColumn(
                name: "RetireAt",
                table: "Bindings");

            migrationBuilder.DropColumn(
                name: "RetiringGeneration",
                table: "Bindings");

            migrationBuilder.DropColumn(
                name: "RetiringReadTokenHash",
                table: "Bindings");
        }
    }
}
