import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each stored offset keeps a digest of the message at that offset (its offset, its Kafka timestamp and a hash of its
 * key and value; null in embedded mode and for offsets stored before this column existed). When a consumer is given that
 * offset again and the message there is another, the log is not the one the offset was taken from (a topic deleted and
 * created again on the same cluster): the partition is applied from its log's start (StoredOffsetChecks).
 */
export class BusOffsetsDigest1767000000000 implements MigrationInterface {
  name = 'BusOffsetsDigest1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE bus_offsets ADD COLUMN last_digest text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE bus_offsets DROP COLUMN last_digest');
  }
}
