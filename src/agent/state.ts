// Where the agent leaves its last plan for `gingham inspect` (on the node's /run, which the
// DaemonSet mounts, so inspect works on the node and in the agent's container alike).
import { join } from 'node:path';

export const AGENT_STATE_PATH = join(process.env['GINGHAM_RUN_DIR'] ?? '/run/gingham', 'agent', 'network.json');
