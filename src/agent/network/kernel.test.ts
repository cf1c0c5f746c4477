import { describe, expect, it } from 'vitest';
import { failedLines } from './kernel.js';

describe('failedLines', () => {
  const lines = ['route del 198.18.130.0/24 via 198.18.0.3 proto 199', 'route replace 198.18.129.0/24 via 198.18.0.2 proto 199', 'route replace 198.18.131.0/24 via 198.18.99.2 proto 199'];

  it('attributes each iproute2 error to its batch line', () => {
    const stderr = 'RTNETLINK answers: No such process\nCommand failed -:1\nError: Nexthop has invalid gateway.\nCommand failed -:3\n';
    expect(failedLines(lines, stderr)).toEqual([
      { line: lines[0], error: 'RTNETLINK answers: No such process' },
      { line: lines[2], error: 'Nexthop has invalid gateway.' },
    ]);
  });

  it('reports output it cannot attribute against the whole batch', () => {
    expect(failedLines(lines, 'ip: something odd\n')).toEqual([{ line: '(batch)', error: 'ip: something odd' }]);
  });
});
