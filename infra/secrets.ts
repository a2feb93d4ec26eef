import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { childOf } from "./component.js";

export interface SecretsArgs {
  /** `keeperhub:dbPassword`; when unset, the generated 32-character password. */
  readonly dbPassword?: pulumi.Output<string>;
  /**
   * `keeperhub:encryptionKey` (INTEGRATION_ENCRYPTION_KEY); when unset, the generated 32 random bytes (64
   * hex characters). Changing it makes every stored integration credential unreadable.
   */
  readonly encryptionKey?: pulumi.Output<string>;
}

/** The generated INTEGRATION_ENCRYPTION_KEY: 32 random bytes (64 hex characters), kept in state. */
function generatedEncryptionKey(
  name: string,
  parent: pulumi.ComponentResource,
  opts: pulumi.ComponentResourceOptions | undefined,
): pulumi.Output<string> {
  return new random.RandomBytes(`${name}-encryption-key`, { length: 32 }, childOf(parent, opts)).hex;
}

/**
 * The stack's two secrets, from config or generated; both outputs are Pulumi secrets. The generated values
 * are always declared, set or not, so they are made once and kept in state for the stack's life: setting
 * the config overrides them, and unsetting it returns to the same generated value, never a new one (the
 * password then reaches the database with ALTER ROLE, as any change does).
 */
export class Secrets extends pulumi.ComponentResource {
  readonly dbPassword: pulumi.Output<string>;
  readonly encryptionKey: pulumi.Output<string>;

  constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Secrets", name, {}, opts);
    // Letters and digits: readable in `--show-secrets`; URLs encode whatever a chosen password holds.
    const password = new random.RandomPassword(
      `${name}-db-password`,
      { length: 32, special: false },
      childOf(this, opts),
    );
    // Declared whether or not the config sets it (see above).
    const key = generatedEncryptionKey(name, this, opts);
    this.dbPassword = pulumi.secret(args.dbPassword ?? password.result);
    this.encryptionKey = pulumi.secret(args.encryptionKey ?? key);
    this.registerOutputs({ dbPassword: this.dbPassword, encryptionKey: this.encryptionKey });
  }
}

/**
 * The cluster profile's one generated secret: the encryption key, as Secrets makes it (its database is the
 * team's, with its own password in `keeperhub:databaseUrl`).
 */
export class EncryptionKey extends pulumi.ComponentResource {
  readonly encryptionKey: pulumi.Output<string>;

  constructor(
    name: string,
    args: Pick<SecretsArgs, "encryptionKey">,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("keeperhub:infra:EncryptionKey", name, {}, opts);
    const key = generatedEncryptionKey(name, this, opts);
    this.encryptionKey = pulumi.secret(args.encryptionKey ?? key);
    this.registerOutputs({ encryptionKey: this.encryptionKey });
  }
}
