using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Portal.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class BackendPlacement : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // One backend per offering becomes a list of backends placement chooses from.
            migrationBuilder.AddColumn<List<Guid>>(
                name: "BackendIds",
                table: "Offerings",
                type: "uuid[]",
                nullable: false,
                defaultValueSql: "'{}'::uuid[]");

            migrationBuilder.Sql("""UPDATE "Offerings" SET "BackendIds" = ARRAY["BackendId"] WHERE "BackendId" IS NOT NULL""");

            migrationBuilder.DropForeignKey(
                name: "FK_Offerings_Backends_BackendId",
                table: "Offerings");

            migrationBuilder.DropIndex(
                name: "IX_Offerings_BackendId",
                table: "Offerings");

            migrationBuilder.DropColumn(
                name: "BackendId",
                table: "Offerings");

            migrationBuilder.AddColumn<string>(
                name: "Parameters",
                table: "Instances",
                type: "jsonb",
                nullable: false,
                defaultValue: "{}");

            migrationBuilder.AddColumn<int>(
                name: "Capacity",
                table: "Backends",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Settings",
                table: "Backends",
                type: "jsonb",
                nullable: false,
                defaultValue: "{}");

            migrationBuilder.AddColumn<string>(
                name: "Site",
                table: "Backends",
                type: "character varying(40)",
                maxLength: 40,
                nullable: false,
                defaultValue: "dc1");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "BackendIds",
                table: "Offerings");

            migrationBuilder.DropColumn(
                name: "Parameters",
                table: "Instances");

            migrationBuilder.DropColumn(
                name: "Capacity",
                table: "Backends");

            migrationBuilder.DropColumn(
                name: "Settings",
                table: "Backends");

            migrationBuilder.DropColumn(
                name: "Site",
                table: "Backends");

            migrationBuilder.AddColumn<Guid>(
                name: "BackendId",
                table: "Offerings",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Offerings_BackendId",
                table: "Offerings",
                column: "BackendId");

            migrationBuilder.AddForeignKey(
                name: "FK_Offerings_Backends_BackendId",
                table: "Offerings",
                column: "BackendId",
                principalTable: "Backends",
                principalColumn: "Id",
                onDelete: ReferentialAction.Restrict);
        }
    }
}
