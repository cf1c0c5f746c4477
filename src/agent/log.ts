// The agent logs one JSON line per event to stdout. kubelet keeps both streams of a container
// (`kubectl logs` shows them interleaved), but collectors read the stream as a severity: Cloud
// Logging, for one, files every stderr line without a severity field of its own as ERROR. The
// event stream goes to stdout; stderr is left for what is not a log line (usage errors, a crash).
export type Level = 'info' | 'warn' | 'error';
export type Logger = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

export const stdoutLogger: Logger = (level, msg, fields = {}) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
