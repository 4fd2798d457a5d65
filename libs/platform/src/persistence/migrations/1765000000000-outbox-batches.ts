import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox keeps one row per unit of work instead of one per message: `messages` is the JSON array of everything
 * the transaction publishes ({topic, key, value, headers}, in order). A burst of alarms that triage handles in one
 * transaction used to write (and, once Kafka had them, delete) a row per dispatch request and per alert change;
 * now it is one row, compressed with lz4 where the server has it. Rows of the old table move over as batches of one.
 */
export class OutboxBatches1765000000000 implements MigrationInterface {
  name = 'OutboxBatches1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox_batches (
        id bigserial PRIMARY KEY,
        messages text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    await q.query(`
      DO $$ BEGIN
        IF 'lz4' = ANY ((SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression')::text[]) THEN
          ALTER TABLE outbox_batches ALTER COLUMN messages SET COMPRESSION lz4;
        END IF;
      END $$;
    `);
    await q.query(`
      INSERT INTO outbox_batches (messages, created_at)
      SELECT json_build_array(json_build_object('topic', topic, 'key', key, 'value', value, 'headers', headers))::text, created_at
      FROM outbox ORDER BY id;
    `);
    await q.query('DROP TABLE outbox');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        topic text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    await q.query(`
      INSERT INTO outbox (topic, key, value, headers, created_at)
      SELECT m->>'topic', m->>'key', m->>'value', COALESCE(m->'headers', '{}'), b.created_at
      FROM outbox_batches b, jsonb_array_elements(b.messages::jsonb) WITH ORDINALITY AS e (m, ord)
      ORDER BY b.id, e.ord;
    `);
    await q.query('DROP TABLE outbox_batches');
  }
}
