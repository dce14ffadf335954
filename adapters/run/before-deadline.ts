/** The promise's value, or a lost reason once `ms` have passed. */
export async function beforeDeadline<T>(promise: Promise<T>, reason: string, ms: number): Promise<T | { lost: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ lost: string }>((resolve) => {
    timer = setTimeout(() => resolve({ lost: reason }), ms);
  });
  const result = await Promise.race([promise, late]);
  clearTimeout(timer);
  return result;
}
