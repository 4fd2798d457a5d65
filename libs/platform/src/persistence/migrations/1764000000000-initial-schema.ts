import { MigrationInterface, QueryRunner } from 'typeorm';

/** The first schema: people, devices, alerts and their timeline, dispatches, audit, and the embedded bus log. */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY,
        username text NOT NULL UNIQUE,
        display_name text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'installer', 'aide')),
        district text NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE settings (
        key text PRIMARY KEY,
        value text NOT NULL
      );
      CREATE TABLE households (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        phone text NOT NULL,
        address text NOT NULL,
        district text NOT NULL,
        street text NOT NULL,
        community text NOT NULL,
        lat double precision NULL,
        lng double precision NULL,
        subsidy_category text NOT NULL,
        funding text NOT NULL CHECK (funding IN ('government', 'self')),
        contacts jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX households_area_idx ON households (district, street, community);
      CREATE TABLE devices (
        id uuid PRIMARY KEY,
        serial text NOT NULL UNIQUE,
        type text NOT NULL,
        model text NULL,
        protocol text NOT NULL DEFAULT 'native',
        attributes jsonb NOT NULL DEFAULT '{}',
        secret_hash text NULL,
        status text NOT NULL CHECK (status IN ('registered', 'active', 'decommissioned')),
        household_id uuid NULL REFERENCES households (id),
        registered_at timestamptz NOT NULL,
        installed_at timestamptz NULL,
        decommissioned_at timestamptz NULL,
        last_seen_at timestamptz NULL
      );
      CREATE INDEX devices_household_idx ON devices (household_id);
      CREATE TABLE aides (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        phone text NOT NULL,
        district text NOT NULL,
        street text NOT NULL,
        community text NOT NULL,
        on_duty boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX aides_on_duty_idx ON aides (district, street, community) WHERE on_duty;
      CREATE TABLE device_events (
        id uuid PRIMARY KEY,
        device_id uuid NOT NULL,
        device_event_id text NOT NULL,
        household_id uuid NOT NULL,
        type text NOT NULL,
        state text NOT NULL,
        device_ts timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        late boolean NOT NULL DEFAULT false,
        alert_id uuid NULL,
        payload jsonb NOT NULL DEFAULT '{}'
      );
      CREATE UNIQUE INDEX device_events_dedup_idx ON device_events (device_id, device_event_id);
      CREATE INDEX device_events_household_idx ON device_events (household_id, received_at DESC);
      CREATE TABLE alerts (
        id uuid PRIMARY KEY,
        household_id uuid NOT NULL REFERENCES households (id),
        device_id uuid NULL,
        type text NOT NULL,
        priority text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
        status text NOT NULL CHECK (status IN ('open', 'dispatched', 'escalated', 'acknowledged', 'resolved')),
        district text NOT NULL,
        community text NOT NULL,
        opened_at timestamptz NOT NULL,
        first_device_ts timestamptz NOT NULL,
        event_count integer NOT NULL DEFAULT 1,
        acknowledged_at timestamptz NULL,
        acknowledged_by text NULL,
        resolved_at timestamptz NULL,
        resolved_by text NULL,
        outcome text NULL,
        note text NULL,
        policy jsonb NOT NULL,
        escalation_round integer NOT NULL DEFAULT 0,
        escalation_due_at timestamptz NULL,
        timer_id uuid NULL
      );
      CREATE UNIQUE INDEX alerts_one_open_per_type_idx ON alerts (household_id, type) WHERE status <> 'resolved';
      CREATE INDEX alerts_queue_idx ON alerts (status, priority, opened_at);
      CREATE INDEX alerts_timer_idx ON alerts (escalation_due_at) WHERE escalation_due_at IS NOT NULL;
      CREATE TABLE alert_log (
        id bigserial PRIMARY KEY,
        alert_id uuid NOT NULL REFERENCES alerts (id),
        at timestamptz NOT NULL,
        kind text NOT NULL,
        actor text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX alert_log_alert_idx ON alert_log (alert_id, id);
      CREATE TABLE dispatches (
        id uuid PRIMARY KEY,
        alert_id uuid NOT NULL REFERENCES alerts (id),
        round integer NOT NULL,
        recipient_kind text NOT NULL CHECK (recipient_kind IN ('aide', 'family', 'operators')),
        recipient_id text NOT NULL,
        recipient_name text NOT NULL,
        channel text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        last_error text NULL,
        provider_ref text NULL,
        destination text NULL,
        body text NOT NULL,
        context jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE UNIQUE INDEX dispatches_once_idx ON dispatches (alert_id, round, recipient_kind, recipient_id, channel);
      CREATE INDEX dispatches_pending_idx ON dispatches (created_at) WHERE status = 'pending';
      CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor_id text NULL,
        actor_name text NULL,
        actor_role text NULL,
        action text NOT NULL,
        target_type text NULL,
        target_id text NULL,
        outcome integer NOT NULL,
        ip text NULL,
        details jsonb NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_log_at_idx ON audit_log (at);
      CREATE TABLE bus_log (
        seq bigserial PRIMARY KEY,
        topic text NOT NULL,
        partition integer NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX bus_log_read_idx ON bus_log (topic, partition, seq);
      CREATE TABLE bus_offsets (
        group_id text NOT NULL,
        topic text NOT NULL,
        partition integer NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (group_id, topic, partition)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE bus_offsets; DROP TABLE bus_log; DROP TABLE audit_log; DROP TABLE dispatches; DROP TABLE alert_log;
      DROP TABLE alerts; DROP TABLE device_events; DROP TABLE aides; DROP TABLE devices; DROP TABLE households;
      DROP TABLE settings; DROP TABLE users;
    `);
  }
}
