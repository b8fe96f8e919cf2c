import { describe } from 'vitest';
import { SQLITE_DRIVERS, probeSqliteDriver, type SqliteDriverName } from '../../src/core/store/sqlite-driver.js';

/**
 * Runs a SQLite suite once per driver this Node can use (node:sqlite, better-sqlite3), so both
 * stay held to the same contract. A driver that cannot load here is skipped with its reason printed
 * (Node 20 has no node:sqlite; better-sqlite3 12 is refused on Node >= 24.19, where it aborts).
 */
export function describeEachSqliteDriver(file: string, body: (driver: SqliteDriverName) => void): void {
  for (const driver of SQLITE_DRIVERS) {
    const probe = probeSqliteDriver(driver);
    if (!probe.ok) {
      console.warn(`${file}: skipping the ${driver} SQLite driver on Node.js ${process.version}: ${probe.reason}`);
      describe.skip(`SQLite driver ${driver} (unavailable)`, () => body(driver));
      continue;
    }
    describe(`SQLite driver ${driver}`, () => body(driver));
  }
}

/** The drivers this Node can use. */
export const usableSqliteDrivers = (): SqliteDriverName[] => SQLITE_DRIVERS.filter((d) => probeSqliteDriver(d).ok);
