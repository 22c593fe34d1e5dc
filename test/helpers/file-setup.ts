import { afterAll } from 'vitest';
import { runFileCleanups } from './file-cleanup.ts';

/**
 * vitest setupFiles: evaluated again for each test file, isolated or not, so this hook is each file's
 * own; registered before the file's hooks, it runs after them (vitest runs afterAll hooks in reverse).
 */
afterAll(runFileCleanups);
