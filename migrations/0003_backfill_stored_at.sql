-- Completions stored before stored_at existed: their provider's `created` is the best estimate of when.
UPDATE `completions` SET `stored_at` = `created` WHERE `stored_at` = 0;
