import { spawn, type ChildProcess } from 'node:child_process';

export interface KafkaMock {
  /** host:port of the mock cluster's bootstrap broker, as KAFKA_BROKERS wants it. */
  brokers: string;
  /**
   * Freezes the cluster (SIGSTOP) until `resume`: connections stay open and nothing is answered, as with a broker
   * that hangs or a network that drops packets. Its data and consumer groups are kept, unlike a restart.
   */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/**
 * A Kafka-protocol cluster for tests: librdkafka's mock cluster inside Debian's `kcat` (no broker package exists
 * here). Produce, consume, consumer groups and offset commits work; topics auto-create with 4 partitions.
 * Each call starts its own cluster, so parallel test files never share topics or consumer groups.
 */
export function startKafkaMock(timeoutMs = 10_000): Promise<KafkaMock> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('kcat', ['-X', 'test.mock.num.brokers=1', '-d', 'mock', '-b', 'dummy:9092', '-C', '-t', '_keepalive', '-o', 'end', '-q'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (e) {
      reject(e);
      return;
    }
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kcat mock cluster did not start in ${timeoutMs} ms:\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run kcat (apt-get install -y kcat): ${e.message}`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr === null) return;
      stderr += d.toString();
      const m = /bootstrap\.servers=(127\.0\.0\.1:\d+)/.exec(stderr);
      if (!m) {
        if (stderr.length > 64_000) stderr = stderr.slice(-8_000);
        return;
      }
      clearTimeout(timer);
      stderr = null as unknown as string;
      child.stderr!.resume();
      resolve({
        brokers: m[1],
        pause: () => void child.kill('SIGSTOP'),
        resume: () => void child.kill('SIGCONT'),
        stop: () => new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          child.kill('SIGCONT');
          child.once('exit', () => done());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
        }),
      });
    });
  });
}
