"""The records each notebook's tests read, as a table: ``tests/conftest.py`` checks every `tiny` run
against it right after the run, so a notebook that stops recording a number fails with that name
(and the notebook's) instead of an error deep inside one test. Names built in the tests (f-strings,
per method or style) are not listed: reading one that is missing still fails with its name."""

EXPECTED_RECORDS = {
    "01": """
        distinct2_sft fact_recall_base fact_recall_gain fact_recall_gain_ci_low fact_recall_sft
        formality_base formality_gain formality_gain_ci_high formality_gain_ci_low formality_sft
        formality_stub mean_words_base mean_words_gain_ci_high mean_words_sft perplexity_reference
        perplexity_sft politeness_base politeness_sft rubric_base rubric_reference rubric_sft
        rubric_stub stopped_sft train_loss_first train_loss_last
    """.split(),
    "02": """
        krippendorff_alpha_empathy krippendorff_alpha_likert_as_pairwise krippendorff_alpha_pairwise
        krippendorff_alpha_pairwise_without_flagged left_win_rate left_win_rate_left_clicker
        majority_agreement_with_expert majority_agreement_with_expert_all_raters n_adjudicated
        n_likert_pairs n_pairs_exported n_raters_flagged politeness_contested_share
    """.split(),
    "03": """
        independent_judge_pair_accuracy independent_judge_shared_complaints judge_val_accuracy
        probe_pass_rate_after probe_pass_rate_before rm_calibration_error rm_independent_judge_correlation_ci_high
        rm_judge_correlation_ci_low
        rm_calibration_error_scaled rm_human_pair_agreement rm_median_margin_sd rm_temperature
        rm_val_accuracy rm_val_accuracy_after
    """.split(),
    "04": """
        beta0_final_kl beta0_hack_rate beta0_independent_minus_rm_gap beta0_independent_minus_rm_gap_ci_high
        beta0_judge_minus_rm_gap beta0_judge_minus_rm_gap_ci_high beta0_steps budget_leader
        budget_seeds eval_judge_ppo eval_judge_sft eval_reward_ppo eval_reward_sft grpo_reward_gain
        ppo_budget_tokens ppo_final_kl ppo_judge_gain_sd ppo_large_final_kl ppo_reward_gain
        ppo_target_kl rloo_judge_gain_sd rloo_minus_ppo_judge_gain_sd rloo_reward_gain sft_hack_rate
        small_beta_hack_rate small_beta_judge_minus_rm_gap token_budget
    """.split(),
    "05": """
        dpo_hack_rate dpo_judge_gain dpo_kl dpo_pref_accuracy dpo_probe_pass_rate dpo_win_rate
        frontier_best_is_hacked frontier_best_kl frontier_dpo_points frontier_ppo_points
    """.split(),
    "06": """
        ab_texts_per_arm peeking_false_positive_rate_ci_low router_mixed_rps router_single_rps
        single_look_false_positive_rate_ci_high style_accuracy_generic
    """.split(),
    "07": """
        classifier_style_accuracy drift_detection_delay_windows drift_detection_rate
        drift_false_alarm_rate drift_flagged_from_update_share human_human_agreement
        human_human_agreement_lesson2 rescored_lesson5 rm_from_judge_accuracy
        rm_from_people_accuracy rm_rescore_win_rate
    """.split(),
    "08": """
        counterexample_accuracy_after front_winner objective_spearman objective_spearman_ci_high
        objective_spearman_ci_low refusal_detector_accuracy soup_adapters soup_points
    """.split(),
    "09": """
        active_vs_random_label_efficiency revision_worse_rate revision_worse_rate_ci_high
        revision_worse_rate_ci_low revisions_kept rlaif_pairs round_accuracy_active
        round_accuracy_random round_empathy round_labels round_scores round_scores_random rlaif_screened
    """.split(),
}
