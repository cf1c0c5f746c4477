// The agent logs one JSON line per event to stderr, where kubelet and `kubectl logs` pick it up.
export type Level = 'info' | 'warn' | 'error';
export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

export const stderrLogger: Logger = (level, msg, fields = {}) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
