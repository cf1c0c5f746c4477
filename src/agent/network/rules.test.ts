import { describe, expect, it } from 'vitest';
import { parseRules, ruleLines } from './rules.js';

describe('policy rules', () => {
  it('reads only ours (priority 199, table 199), canonical', () => {
    const json = JSON.parse('[{"priority":0,"src":"all","table":"local"},{"priority":199,"src":"198.18.129.0","srclen":24,"table":"199"},{"priority":199,"src":"198.18.1.0","srclen":24,"table":"main"},{"priority":32766,"src":"all","table":"main"}]') as unknown[];
    expect(parseRules(4, json)).toEqual([{ family: 4, from: '198.18.129.0/24' }]);
    expect(parseRules(6, [{ priority: 199, src: 'fd42:0018:8000::', srclen: 64, table: '199' }])).toEqual([{ family: 6, from: 'fd42:18:8000::/64' }]);
  });

  it('adds what is missing and removes what is not wanted, per family', () => {
    expect(ruleLines([{ family: 4, from: '198.18.129.0/24' }, { family: 6, from: 'fd42:18:8000::/64' }], [{ family: 4, from: '198.18.200.0/24' }])).toEqual({
      4: ['rule del from 198.18.200.0/24 lookup 199 pref 199', 'rule add from 198.18.129.0/24 lookup 199 pref 199'],
      6: ['rule add from fd42:18:8000::/64 lookup 199 pref 199'],
    });
    expect(ruleLines([{ family: 4, from: '198.18.129.0/24' }], [{ family: 4, from: '198.18.129.0/24' }])).toEqual({ 4: [], 6: [] });
  });
});
