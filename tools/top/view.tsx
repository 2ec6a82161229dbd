import { Box, Text, useApp, useInput } from 'ink';
import { useEffect, useState } from 'react';
import { AdminError, type AdminClient, type Snapshot } from './admin-client.js';
import { buildFrame, rateText, type Frame, type RuleRow } from './frame.js';

const REFRESH_MS = 1_000;

interface Props {
  client: AdminClient;
  url: string;
  first: Snapshot;
  /** Whether keys can be read (stdin is a terminal); Ctrl-C works either way. */
  interactive: boolean;
}

interface Readings {
  current: Snapshot;
  previous?: Snapshot;
  /** Why the last refresh failed; the view keeps the last good reading meanwhile. */
  error?: string;
  updatedAt: Date;
}

// 117 columns; a narrower terminal cuts the rows rather than wrapping them.
const COLUMNS: [string, number, 'left' | 'right'][] = [
  ['RULE', 20, 'left'],
  ['ALGORITHM', 24, 'left'],
  ['LIMIT', 12, 'right'],
  ['WINDOW', 8, 'right'],
  ['MODE', 9, 'left'],
  ['ALLOWED/S', 10, 'right'],
  ['DENIED/S', 10, 'right'],
  ['ALLOWED', 12, 'right'],
  ['DENIED', 12, 'right'],
];

const cell = (text: string, [, width, align]: (typeof COLUMNS)[number]) => {
  const fitted = text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
  return align === 'left' ? fitted.padEnd(width) : fitted.padStart(width - 1) + ' ';
};

const rowCells = (row: RuleRow) => [
  row.name,
  row.algorithm,
  String(row.limit),
  row.window,
  row.mode,
  rateText(row.allowedPerSecond),
  rateText(row.deniedPerSecond),
  String(row.allowed),
  String(row.mode === 'dry-run' ? row.dryRunDenied : row.denied),
];

const BREAKER_COLOR = { closed: 'green', 'half-open': 'yellow', open: 'red' } as const;

export function TopView({ client, url, first, interactive }: Props) {
  const { exit } = useApp();
  const [readings, setReadings] = useState<Readings>({ current: first, updatedAt: new Date() });

  useInput(
    (input) => {
      if (input === 'q') exit();
    },
    { isActive: interactive },
  );

  useEffect(() => {
    let stopped = false;
    let timer: NodeJS.Timeout;
    const tick = async () => {
      try {
        const next = await client.snapshot();
        if (!stopped)
          setReadings((r) => ({ current: next, previous: r.current, updatedAt: new Date() }));
      } catch (error) {
        const message = error instanceof AdminError ? error.message : String(error);
        if (!stopped) setReadings((r) => ({ ...r, error: message }));
      }
      if (!stopped) timer = setTimeout(tick, REFRESH_MS);
    };
    timer = setTimeout(tick, REFRESH_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client]);

  const frame = buildFrame(readings.current, readings.previous);
  return (
    <Box flexDirection="column">
      <Header frame={frame} url={url} updatedAt={readings.updatedAt} />
      {readings.error ? <Text color="red">{`${readings.error}: retrying`}</Text> : <Text> </Text>}
      <Text bold inverse wrap="truncate-end">
        {COLUMNS.map(([title], i) => cell(title, COLUMNS[i])).join('')}
      </Text>
      {frame.rows.map((row) => (
        <Box key={row.name} flexDirection="column">
          <Text color={row.deniedPerSecond ? 'yellow' : undefined} wrap="truncate-end">
            {rowCells(row)
              .map((text, i) => cell(text, COLUMNS[i]))
              .join('')}
          </Text>
          {row.tiers && <Text dimColor>{`${''.padEnd(COLUMNS[0][1])}tiers ${row.tiers}`}</Text>}
        </Box>
      ))}
      <Text> </Text>
      <Text bold>Most throttled keys, last 60 s (hashed identities, denials)</Text>
      {frame.rows.map((row) => (
        <Text key={row.name} dimColor={row.topKeys.length === 0} wrap="truncate-end">
          {cell(row.name, COLUMNS[0])}
          {row.topKeys.length === 0
            ? '-'
            : row.topKeys
                .slice(0, 5)
                .map(({ key, denied }) => `${key} ${denied}`)
                .join('   ')}
        </Text>
      ))}
      <Text> </Text>
      <Text dimColor>
        {interactive ? 'q or Ctrl-C: quit' : 'Ctrl-C: quit'} · refreshed every second · counts of
        the instance that answered
      </Text>
    </Box>
  );
}

function Header({ frame, url, updatedAt }: { frame: Frame; url: string; updatedAt: Date }) {
  return (
    <Text wrap="truncate-end">
      <Text bold>rate-limit top</Text> {url} {'  '}store <Text bold>{frame.store}</Text> {'  '}
      breaker{' '}
      <Text bold color={BREAKER_COLOR[frame.breaker]}>
        {frame.breaker}
      </Text>{' '}
      {'  '}config <Text bold>{frame.config}</Text> {'  '}
      {updatedAt.toISOString().slice(11, 19)} UTC
    </Text>
  );
}
