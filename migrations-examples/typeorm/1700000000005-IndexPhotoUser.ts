import { MigrationInterface, QueryRunner } from "typeorm";

export class IndexPhotoUser1700000000005 implements MigrationInterface {
    name = "IndexPhotoUser1700000000005";

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE INDEX "IDX_4494006ff358f754d07df5ccc8" ON "photo" ("userId") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "public"."IDX_4494006ff358f754d07df5ccc8"`);
    }
}
