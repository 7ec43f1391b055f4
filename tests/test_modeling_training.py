"""The models learn and keep what must stay fixed: a fixed random batch is fitted by the classifier and the
localizer, the mapping loss leaves the frozen recovery model untouched, gradient checkpointing gives the same
gradients. Tiny configs and random tensors (`DelocateModelTester`)."""

import torch

from modeling import DelocateForForgeryLocalization, DelocateForMaskedRecovery, DelocateForVideoClassification

from test_modeling import clip, config, overfit, random_mask, tester  # noqa: F401  (clip, config, tester: fixtures)


def test_classifier_and_localizer_learn_a_fixed_batch(tester):
    torch.manual_seed(0)
    config, inputs = tester.prepare_config_and_inputs()
    classifier = DelocateForVideoClassification(config).train()
    losses = overfit(classifier, lambda: classifier(inputs["pixel_values"], labels=inputs["labels"]).loss)
    assert losses[-1] < 0.5 * losses[0], losses

    localizer = DelocateForForgeryLocalization(config).train()
    targets = {key: inputs[key] for key in ("pixel_values", "labels", "mask_labels", "recovered_pixel_values")}
    losses = overfit(localizer, lambda: localizer(**targets).loss, lr=3e-3)
    assert losses[-1] < 0.6 * losses[0], losses


def test_mapping_loss_leaves_the_frozen_recovery_model_unchanged(config, clip):
    recovery = DelocateForMaskedRecovery(config).eval().requires_grad_(False)
    before = {k: v.clone() for k, v in recovery.state_dict().items()}
    localizer = DelocateForForgeryLocalization(config).train()
    optimizer = torch.optim.SGD(localizer.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    mask = random_mask(config, 2)
    mapping_before = localizer.localizer.mapping.conv3.weight.clone()
    for _ in range(2):
        with torch.no_grad():
            target = recovery(clip, bool_masked_pos=mask).reconstruction
        loss = localizer(clip, recovered_pixel_values=target).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in recovery.parameters())
    for name, tensor in recovery.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert not torch.equal(localizer.localizer.mapping.conv3.weight, mapping_before)


def test_gradient_checkpointing_gives_same_gradients(config, clip):
    torch.manual_seed(0)
    model = DelocateForVideoClassification(config).train()
    labels = torch.tensor([0, 1])
    model(clip, labels=labels).loss.backward()
    reference = model.classifier.weight.grad.clone()
    model.zero_grad()
    model.activation_checkpointing_enable()
    model(clip, labels=labels).loss.backward()
    torch.testing.assert_close(model.classifier.weight.grad, reference)
