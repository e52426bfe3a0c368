import { Capability } from '../../src/protocol/mysql-packets.js';

/** The capability flags a plain MySQL 4.1+ client sends, for hand-built handshake responses. */
export const CLIENT_FLAGS =
  Capability.LONG_PASSWORD |
  Capability.PROTOCOL_41 |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CONNECT_WITH_DB |
  Capability.CONNECT_ATTRS;
