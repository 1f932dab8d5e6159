// Watches the test process (which runs Hangar in-process) while an attack runs: its RSS, sampled
// every 20 ms from a baseline taken at the start, and /healthz answers, probed in a loop.
export interface HealthProbe {
  status: number | string;
  latencyMs: number;
  /** When the probe was sent (ms since the epoch). */
  at: number;
}

export interface HostWatch {
  readonly baselineRss: number;
  readonly peakRss: number;
  readonly probes: HealthProbe[];
  /** Stops sampling and probing; resolves once the probe in flight has answered. */
  stop(): Promise<void>;
}

/** Starts watching; call after the harness settled (a GC first, when exposed, gives a steadier baseline). */
export function watchHost(baseUrl: string, options: { probeEveryMs: number }): HostWatch {
  global.gc?.();
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const probes: HealthProbe[] = [];
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const at = Date.now();
      const status = await fetch(`${baseUrl}/healthz`).then(
        (response) => response.status,
        (error: unknown) => String(error),
      );
      probes.push({ status, latencyMs: Date.now() - at, at });
      await new Promise((resolve) => setTimeout(resolve, options.probeEveryMs));
    }
  })();
  return {
    baselineRss,
    get peakRss() {
      return peakRss;
    },
    probes,
    async stop() {
      probing = false;
      await prober;
      clearInterval(sampler);
    },
  };
}
