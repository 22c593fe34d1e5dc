import type { SqliteDatabase } from '../../src/db/client.ts';
import { splitChoices } from '../../src/store/joined-choices.ts';
import { choicesSql } from '../../src/store/sqlite/stored-json.ts';

/** The table migration 0000 created and 0008 dropped, as it was. */
const CHOICES_TABLE = `CREATE TABLE IF NOT EXISTS \`choices\` (
	\`completion_seq\` integer NOT NULL,
	\`idx\` integer NOT NULL,
	\`body\` text NOT NULL,
	PRIMARY KEY(\`completion_seq\`, \`idx\`),
	FOREIGN KEY (\`completion_seq\`) REFERENCES \`completions\`(\`seq\`) ON UPDATE no action ON DELETE cascade
)`;

/**
 * Puts every completion's choices in the `choices` table, one row per choice in order, as the store
 * kept them before migration 0008 moved them into the completion's row; with `dropColumn`, also
 * takes the column away, leaving the layout 0008 upgrades.
 */
export function storeChoicesApart(db: SqliteDatabase, { dropColumn }: { dropColumn: boolean }): void {
  db.exec(CHOICES_TABLE);
  const insert = db.prepare('INSERT INTO choices (completion_seq, idx, body) VALUES (?, ?, ?)');
  const rows = db.prepare(`SELECT seq, ${choicesSql('choices')} AS choices FROM completions`).all() as { seq: number; choices: string }[];
  for (const { seq, choices } of rows) splitChoices(choices).forEach((body, idx) => insert.run(seq, idx, body));
  if (dropColumn) db.exec('ALTER TABLE completions DROP COLUMN choices');
}
