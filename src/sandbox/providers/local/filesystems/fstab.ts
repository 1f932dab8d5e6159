// fstab lines (pure): the sandbox's two filesystems are listed in a private fstab file and mounted
// with one `mount -a --fstab`, which costs what a single mount costs.

/** Escapes a path for an fstab field (whitespace and backslash as octal). */
export function fstabEscape(value: string): string {
  return value.replace(/[\\ \t\n]/g, (char) => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** One fstab line (no dump, no fsck pass). */
export function fstabLine(source: string, mountPoint: string, type: string, options: string): string {
  return `${fstabEscape(source)} ${fstabEscape(mountPoint)} ${type} ${options} 0 0\n`;
}
