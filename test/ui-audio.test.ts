import { describe, expect, it } from 'vitest';
import { browserAvailable } from './helpers/browser.ts';
import { seedCompletion } from './helpers/seed.ts';
import { signIn, useUiSuite } from './helpers/ui-page.ts';

/** A WAV file of 8 samples of silence (8 kHz, 8 bits, mono): small, and a browser can decode it. */
function tinyWav(): string {
  const samples = 8;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples, 40);
  return Buffer.concat([header, Buffer.alloc(samples, 128)]).toString('base64');
}

describe.skipIf(!browserAvailable)('web UI: audio sent with a message', () => {
  const wav = tinyWav();
  let id = '';
  const suite = useUiSuite(async ({ service, upstream }) => {
    id = await seedCompletion(service.client(), upstream, {
      created: 1_760_000_000,
      model: 'gpt-4o-audio-preview',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is said here?' },
            { type: 'input_audio', input_audio: { data: wav, format: 'wav' } },
            // A format no browser plays, and data that is not base64: described, never made a player.
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'pcm16' as 'wav' } },
            { type: 'input_audio', input_audio: { data: 'not base64 "><b>', format: 'mp3' } },
            { type: 'image_url', image_url: { url: 'https://example.invalid/cat.png' } },
          ],
        },
      ],
      replies: [{ content: 'Silence.' }],
    });
  });

  it('plays the audio from its own data, names the rest, and previews parts in words', async () => {
    const page = await suite.open();
    const failed: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') failed.push(message.text());
    });
    await signIn(page);
    const row = page.locator('ol.rows li').first();
    await row.getByText('What is said here?').waitFor();
    expect(await row.innerText()).toContain('What is said here? [audio] [audio] [audio] [image]');

    await page.goto(`${suite.service.origin}/#/completions/${id}`);
    const players = page.locator('article.message audio');
    await players.first().waitFor();
    expect(await players.count()).toBe(1);
    expect(await players.first().getAttribute('src')).toBe(`data:audio/wav;base64,${wav}`);
    expect(await players.first().getAttribute('controls')).toBe('');
    expect(await players.first().getAttribute('preload')).toBe('none');
    // The page's policy lets it play: loaded when asked, it decodes.
    type Player = { preload: string; load(): void; readyState: number; duration: number };
    await players.first().evaluate((el) => {
      (el as unknown as Player).preload = 'auto';
      (el as unknown as Player).load();
    });
    await expect
      .poll(() => players.first().evaluate((el) => (el as unknown as Player).readyState >= 1 && (el as unknown as Player).duration > 0), { timeout: 5_000 })
      .toBe(true);
    const captions = await page.locator('article.message .part').allInnerTexts();
    // (The label is drawn in capitals.)
    expect(captions).toEqual([
      `AUDIO wav, ${wav.length} characters of base64`,
      'AUDIO pcm16, 4 characters of base64',
      'AUDIO mp3, 16 characters of base64',
      // On another host: not loaded until asked (test/ui-remote-images.test.ts).
      'Not loaded: loading it tells example.invalid that this conversation was opened, when, and from where.\n\nLoad image\nImage: https://example.invalid/cat.png Copy address',
    ]);
    expect(failed.filter((text) => text.includes('Content Security Policy'))).toEqual([]);
  });
});
