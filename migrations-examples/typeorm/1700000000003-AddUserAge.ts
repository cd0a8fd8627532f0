import { MigrationInterface, QueryRunner } from "typeorm";

export class AddUserAge1700000000003 implements MigrationInterface {
    name = "AddUserAge1700000000003";

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "user" ADD "age" integer NOT NULL DEFAULT 0`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "user" DROP COLUMN "age"`);
    }
}
