import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each stored offset names the log it was taken from: in distributed mode the Kafka cluster's id (null in embedded
 * mode, and for offsets stored before this column existed). An offset stored on one cluster says nothing about a
 * partition of another: a consumer that finds its group's offset stored on a cluster other than the one it reads
 * applies that partition from its start (StoredOffsetChecks).
 */
export class BusOffsetsLog1766000000000 implements MigrationInterface {
  name = 'BusOffsetsLog1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE bus_offsets ADD COLUMN log_id text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE bus_offsets DROP COLUMN log_id');
  }
}
