import type { Queryable } from "./pool.js";

/**
 * How a workflow's runs went over a window, in equal buckets by created_at (the console's workflow chart):
 * outcomes counted, durations of the finished ones summarised. One grouped query on the
 * (workflow_id, created_at) index, whatever the number of runs.
 */

export interface RunBucket {
  /** The bucket's first instant (inclusive); it lasts the window's bucketMs. */
  readonly start: Date;
  readonly success: number;
  readonly error: number;
  readonly cancelled: number;
  /** Pending or running. */
  readonly unfinished: number;
  /** Median duration of the bucket's finished runs, ms; null when none has one. */
  readonly medianMs: number | null;
  readonly maxMs: number | null;
}

export interface RunWindow {
  /** The window's first instant. */
  readonly from: Date;
  readonly bucketMs: number;
  readonly buckets: number;
}

type BucketRow = Omit<RunBucket, "start" | "medianMs" | "maxMs"> & {
  bucket: number;
  median_ms: number | null;
  max_ms: number | null;
};

/** Every bucket of the window, in order; a bucket without runs has zero counts and null durations. */
export async function readRunBuckets(
  db: Queryable,
  workflowId: string,
  window: RunWindow,
): Promise<RunBucket[]> {
  const to = new Date(window.from.getTime() + window.bucketMs * window.buckets);
  const { rows } = await db.query<BucketRow>(
    `SELECT floor(extract(epoch FROM e.created_at - $2::timestamptz) * 1000 / $4)::int AS bucket,
            count(*) FILTER (WHERE e.status = 'success')::int AS success,
            count(*) FILTER (WHERE e.status = 'error')::int AS error,
            count(*) FILTER (WHERE e.status = 'cancelled')::int AS cancelled,
            count(*) FILTER (WHERE e.status IN ('pending', 'running'))::int AS unfinished,
            (percentile_cont(0.5) WITHIN GROUP (ORDER BY e.duration_ms))::float8 AS median_ms,
            max(e.duration_ms)::int AS max_ms
     FROM workflow_executions e
     WHERE e.workflow_id = $1 AND e.created_at >= $2 AND e.created_at < $3
     GROUP BY 1`,
    [workflowId, window.from, to, window.bucketMs],
  );
  const byBucket = new Map(rows.map((row) => [row.bucket, row]));
  return Array.from({ length: window.buckets }, (_, index) => {
    const row = byBucket.get(index);
    return {
      start: new Date(window.from.getTime() + index * window.bucketMs),
      success: row?.success ?? 0,
      error: row?.error ?? 0,
      cancelled: row?.cancelled ?? 0,
      unfinished: row?.unfinished ?? 0,
      medianMs: row?.median_ms === null || row?.median_ms === undefined ? null : Math.round(row.median_ms),
      maxMs: row?.max_ms ?? null,
    };
  });
}
