using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Portal.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class EgressAllowList : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "EgressAllowList",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Target = table.Column<string>(type: "character varying(253)", maxLength: 253, nullable: false),
                    Site = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    BackendId = table.Column<Guid>(type: "uuid", nullable: true),
                    Note = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CreatedBy = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_EgressAllowList", x => x.Id);
                    table.ForeignKey(
                        name: "FK_EgressAllowList_Backends_BackendId",
                        column: x => x.BackendId,
                        principalTable: "Backends",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_EgressAllowList_BackendId",
                table: "EgressAllowList",
                column: "BackendId");

            migrationBuilder.CreateIndex(
                name: "IX_EgressAllowList_Target_Site_BackendId",
                table: "EgressAllowList",
                columns: new[] { "Target", "Site", "BackendId" },
                unique: true)
                .Annotation("Npgsql:NullsDistinct", false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "EgressAllowList");
        }
    }
}
