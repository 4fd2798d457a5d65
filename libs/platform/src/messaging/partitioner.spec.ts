import { Partitioners, type ICustomPartitioner, type PartitionerArgs } from 'kafkajs';
import { rememberingPartitioner } from './partitioner';

const metadata = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
const args = (key: string | null, partitions: number, partition?: number): PartitionerArgs =>
  ({ topic: 't', partitionMetadata: metadata(partitions), message: { key, value: 'v', partition } }) as PartitionerArgs;

describe('rememberingPartitioner', () => {
  it('places every key where kafkajs\'s default partitioner does, for each partition count', () => {
    const plain = Partitioners.DefaultPartitioner();
    const remembering = rememberingPartitioner(Partitioners.DefaultPartitioner)();
    for (const n of [1, 4, 12]) {
      for (let i = 0; i < 500; i++) {
        const key = `household-${i}`;
        expect(remembering(args(key, n))).toBe(plain(args(key, n)));
        expect(remembering(args(key, n))).toBe(plain(args(key, n))); // the remembered answer
      }
    }
  });

  it('hashes a key once per partition count, and keeps an explicit partition or a keyless message to the inner partitioner', () => {
    let calls = 0;
    const counting: ICustomPartitioner = () => {
      const inner = Partitioners.DefaultPartitioner();
      return (a) => {
        calls++;
        return inner(a);
      };
    };
    const p = rememberingPartitioner(counting)();
    for (let i = 0; i < 10; i++) p(args('home-1', 4));
    expect(calls).toBe(1);
    p(args('home-1', 8));
    expect(calls).toBe(2);
    expect(p(args('home-1', 4, 3))).toBe(3);
    p(args(null, 4));
    p(args(null, 4));
    expect(calls).toBe(5);
  });
});
