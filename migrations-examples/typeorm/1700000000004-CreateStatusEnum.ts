import { MigrationInterface, QueryRunner } from "typeorm";

export class CreateStatusEnum1700000000004 implements MigrationInterface {
    name = "CreateStatusEnum1700000000004";

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TYPE "public"."photo_status_enum" AS ENUM('draft', 'published')`);
        await queryRunner.query(`ALTER TABLE "photo" ADD "status" "public"."photo_status_enum" NOT NULL DEFAULT 'draft'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "photo" DROP COLUMN "status"`);
        await queryRunner.query(`DROP TYPE "public"."photo_status_enum"`);
    }
}
