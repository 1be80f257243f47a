/**
 * Secrets, encrypted at rest with AES-256-GCM under a key file only the runtime can read.
 * Values leave the runtime in one way only: as environment variables of the runners of apps
 * that list them. The API returns names.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ENV_NAME_PATTERN } from '../../appconfig';
import type { SecretInfo } from '../../shared/api';
import type { EventBus } from '../observability/events';
import { writeFileAtomic } from './atomicFiles';

interface SealedSecret {
  iv: string;
  tag: string;
  data: string;
  updatedAt: string;
}

/** What a secret value is replaced with wherever it would leave the runtime by accident. */
export const REDACTED = '[redacted]';

export class SecretStore {
  private readonly key: Buffer;
  private sealed: Record<string, SealedSecret>;
  /** The values, longest first (a secret containing another is redacted whole). */
  private plainValues: string[] = [];

  constructor(private readonly file: string, keyFile: string, private readonly events: EventBus) {
    if (!existsSync(keyFile)) writeFileAtomic(keyFile, randomBytes(32).toString('base64'), 0o600);
    this.key = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
    if (this.key.length !== 32) throw new Error(`${keyFile} is not a Kiln secrets key (32 bytes, base64); move it aside to start with no secrets`);
    this.sealed = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as Record<string, SealedSecret> : {};
    this.refreshValues();
  }

  /** Replaces every secret value in `text`: logs, error details and queue results pass through here. */
  redact(text: string): string {
    let result = text;
    for (const secret of this.plainValues) {
      if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    }
    return result;
  }

  private refreshValues(): void {
    // Very short values would redact ordinary words; such a secret protects little anyway.
    this.plainValues = Object.values(this.reveal(Object.keys(this.sealed)).values)
      .filter((value) => value.length >= 4)
      .sort((a, b) => b.length - a.length);
  }

  list(): SecretInfo[] {
    return Object.entries(this.sealed)
      .map(([name, secret]) => ({ name, updatedAt: secret.updatedAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  has(name: string): boolean {
    return name in this.sealed;
  }

  set(name: string, value: string): SecretInfo {
    if (!ENV_NAME_PATTERN.test(name)) {
      throw new Error(`"${name}" is not a valid secret name: runners see secrets as environment variables, so use letters, digits and "_", not starting with a digit`);
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    const updatedAt = new Date().toISOString();
    this.sealed = { ...this.sealed, [name]: { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64'), updatedAt } };
    this.save();
    this.events.publish({ type: 'secret.set', name });
    return { name, updatedAt };
  }

  unset(name: string): boolean {
    if (!(name in this.sealed)) return false;
    const { [name]: _removed, ...rest } = this.sealed;
    this.sealed = rest;
    this.save();
    this.events.publish({ type: 'secret.unset', name });
    return true;
  }

  /** Decrypts the named secrets for a runner's environment; missing names are returned apart. */
  reveal(names: string[]): { values: Record<string, string>; missing: string[] } {
    const values: Record<string, string> = {};
    const missing: string[] = [];
    for (const name of names) {
      const secret = this.sealed[name];
      if (!secret) {
        missing.push(name);
        continue;
      }
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(secret.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(secret.tag, 'base64'));
      values[name] = Buffer.concat([decipher.update(Buffer.from(secret.data, 'base64')), decipher.final()]).toString('utf8');
    }
    return { values, missing };
  }

  private save(): void {
    writeFileAtomic(this.file, JSON.stringify(this.sealed, null, 2), 0o600);
    this.refreshValues();
  }
}
