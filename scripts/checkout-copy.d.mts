/** Copies the checkout at `from` (its tracked and untracked, not ignored, files and node_modules) to `to`. */
export function copyCheckout(from: string, to: string): void;
