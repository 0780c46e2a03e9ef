/**
 * A payload codec that measures the one it wraps: wall and CPU time of every encode and decode
 * (the project's codec works synchronously inside the call, so the time to the returned promise
 * is its work), payload counts and bytes. The benchmarks install it on the client and the worker
 * they run in one process, so the totals are the codec's whole cost for the requests they make.
 *
 * Measured in the run, those times include whatever else the machine's two cores do at that
 * moment (the worker's other threads, the dev server). So it also records the payloads it saw,
 * and `isolatedCost` encodes and decodes that same mix again in a tight loop afterwards: the
 * codec's own cost per request for the real payloads of the real requests.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecFigures {
  calls: number;
  payloads: number;
  bytesIn: number;
  wallMs: number;
  /** Process CPU time (all threads) while inside codec calls: an upper bound under load. */
  cpuMs: number;
}

export class MeteredCodec implements PayloadCodec {
  figures: CodecFigures = MeteredCodec.zero();
  /** While set, every encode and decode batch is kept (for isolatedCost). */
  recording: { encode: Payload[][]; decode: Payload[][] } | null = null;

  constructor(private readonly inner: PayloadCodec) {}

  static zero(): CodecFigures {
    return { calls: 0, payloads: 0, bytesIn: 0, wallMs: 0, cpuMs: 0 };
  }

  /** The figures since the last reset, and a fresh start. */
  take(): CodecFigures {
    const f = this.figures;
    this.figures = MeteredCodec.zero();
    return f;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    this.recording?.encode.push(payloads);
    return this.measure(payloads, (p) => this.inner.encode(p));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    this.recording?.decode.push(payloads);
    return this.measure(payloads, (p) => this.inner.decode(p));
  }

  /**
   * Encode and decode the recorded batches again, `rounds` times, on the inner codec: wall ms
   * per request (`requests` = how many requests the recording covers), with nothing else running.
   */
  async isolatedCost(requests: number, rounds = 20): Promise<{ ms_per_request: number; cpu_ms_per_request: number; payloads_per_request: number }> {
    const rec = this.recording;
    if (!rec || requests === 0) return { ms_per_request: Number.NaN, cpu_ms_per_request: Number.NaN, payloads_per_request: 0 };
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let r = 0; r < rounds; r++) {
      for (const batch of rec.encode) await this.inner.encode(batch);
      for (const batch of rec.decode) await this.inner.decode(batch);
    }
    const ms = (performance.now() - started) / rounds / requests;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000 / rounds / requests;
    const payloads = [...rec.encode, ...rec.decode].reduce((n, b) => n + b.length, 0) / requests;
    return { ms_per_request: Math.round(ms * 1000) / 1000, cpu_ms_per_request: Math.round(cpuMs * 1000) / 1000, payloads_per_request: Math.round(payloads * 10) / 10 };
  }

  private measure(payloads: Payload[], run: (p: Payload[]) => Promise<Payload[]>): Promise<Payload[]> {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = run(payloads);
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    this.figures.calls += 1;
    this.figures.payloads += payloads.length;
    this.figures.bytesIn += payloads.reduce((n, p) => n + (p.data?.length ?? 0), 0);
    this.figures.wallMs += wall;
    this.figures.cpuMs += (used.user + used.system) / 1000;
    return result;
  }
}
